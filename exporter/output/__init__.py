"""Renderings of results for other tools and people: the diff as a table or a pull
request comment, SARIF for code-scanning UIs, PolicyReport objects for policy-reporter."""
