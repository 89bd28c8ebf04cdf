"""What happened, as data: the one event type and its bounded bus, and the registry of event kinds."""
