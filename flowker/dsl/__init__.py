"""The pure workflow core: model, validation, conditions, mappings. No I/O, no Ray."""
