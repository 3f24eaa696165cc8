pytest_plugins = ["crm_common.testing"]
