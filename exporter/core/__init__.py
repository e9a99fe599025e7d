"""Pure analysis: standard library only, data in and data out.

Every source (manifests, live clusters, recorded flows) converges on the objects in
`model`, so one engine serves the CLI, the service, the tests and CI.
"""
