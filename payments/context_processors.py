from payments.lightning import get_backend


def lightning(request) -> dict:
    """Tells every page whether real money moves, so the development backend is labelled everywhere."""
    return {"lightning_moves_real_money": get_backend().moves_real_money}
