"""The lab's sockets: TCP and UDP endpoints with their threads, the connections they accept, and what a
server does with each connection (a mode's Service, a Handler per connection)."""
