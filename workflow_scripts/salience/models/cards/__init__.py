"""One description per model (:class:`salience.models.description.ModelDescription`), torch-free."""
