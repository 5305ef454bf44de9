"""Renderers only: the terminal table, JSON, Markdown, HTML and plots of report rows."""
