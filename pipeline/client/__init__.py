"""Strobe's client side: the HTTP client (`http`), `strobe tasks` (`commands`) and
`strobe batch` (`batch`). It talks to any Strobe over HTTP and imports no server part."""
