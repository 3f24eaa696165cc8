SERVICE = "activities"
