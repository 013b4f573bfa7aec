"""What a page shows a user besides its content."""


def messages_of(response) -> list[str]:
    """The flash messages the page shows (none when the response rendered no template, like a redirect)."""
    return [str(message) for message in response.context["messages"]] if response.context else []
