"""The worker side: a dispatcher that leases tasks and a Ray actor pool that runs them."""
