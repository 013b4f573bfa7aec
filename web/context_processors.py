from payments.lightning import get_backend, test_wallet_enabled


def lightning(request) -> dict:
    """Tells every page whether real money moves, so the development backend is labelled everywhere, and whether
    its test wallet buttons may be offered."""
    return {
        "lightning_moves_real_money": get_backend().moves_real_money,
        "test_wallet_enabled": test_wallet_enabled(),
    }
