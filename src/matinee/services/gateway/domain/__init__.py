"""Gateway domain: nothing yet; the route table and filters arrive with the edge issue."""
