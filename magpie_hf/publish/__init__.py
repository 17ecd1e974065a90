"""Publishing: Hub-layout export, dataset cards, push to the Hub."""
