"""The job engine: Django's tasks framework (the ``django-tasks`` backport) on the ``django-tasks-db``
backend, plus what the framework leaves out — retries with backoff, leases for tasks whose worker died,
one scheduler of periodic duties, sealed task arguments, and a worker that outlives database outages.

Capabilities define their tasks with ``@task`` in their own ``tasks.py`` (import it from
``kaitong.jobs.framework``) and register their periodic duties with ``kaitong.jobs.scheduler``.
"""
