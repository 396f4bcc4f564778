"""The Qt user interface: a view over the services, holding no domain logic of its own."""
