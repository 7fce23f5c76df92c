"""Settings: the schema every setting is declared in, and the settings parsed once from the config."""
