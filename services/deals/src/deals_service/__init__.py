SERVICE = "deals"
