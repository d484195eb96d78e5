"""Herald delivery core: policy, contract, configuration. Knows nothing about Lambda."""
