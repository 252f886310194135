"""End-to-end and service tests of the language server (a package, so that the tests import
their shared `lsp_harness` relatively, whatever pytest's import mode)."""
