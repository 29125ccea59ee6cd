"""MLflow write-back: allocated cost onto runs and registered model versions."""
