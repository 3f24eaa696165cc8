SERVICE = "ares"
