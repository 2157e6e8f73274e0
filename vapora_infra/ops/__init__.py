"""Operations on a deployed stack: scaling, workflows, health and notices.

Nothing here prints. Functions return values or raise ``VaporaError``; the CLI
decides how to show them.
"""
