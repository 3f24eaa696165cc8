SERVICE = "clients"
