"""The scheduler and worker roles: thin wrappers around dask.distributed."""
