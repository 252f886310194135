"""The embedded Backend.AI-compatible session server (protocol doc §1-§6).

serve (start_server, serve_forever) -> app (create_app: routes and middleware) -> handlers
(sessions_api, files_api, events_api, execute_ws) -> registry (SessionRegistry) -> session
(Session: work dir, JupyterKernel from kernel, runs, terminal). The run loop lives in runs,
fed by query (Jupyter executions) and batch (shell steps). Requests are parsed by payloads,
checked by authcheck, and errors rendered by http_errors and problems.
"""
