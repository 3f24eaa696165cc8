SERVICE = "importer"
