from django.urls import path

from web import wallet_views as views

urlpatterns = [
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/deposits/new/", views.deposit_new, name="deposit_new"),
    path("wallet/deposits/<public_id:deposit_id>/", views.deposit_detail, name="deposit_detail"),
    path("wallet/deposits/<public_id:deposit_id>/status/", views.deposit_status, name="deposit_status"),
    path(
        "wallet/deposits/<public_id:deposit_id>/pay-with-test-wallet/",
        views.deposit_pay_with_dev_wallet,
        name="deposit_pay_with_dev_wallet",
    ),
    path("wallet/payouts/", views.payouts, name="payouts"),
    path("wallet/payouts/<public_id:payout_id>/card/", views.payout_card, name="payout_card"),
    path("wallet/payouts/settings/", views.payout_settings, name="payout_settings"),
    path("wallet/how-to-be-paid/", views.payment_step, name="payment_step"),
    path("wallet/withdraw/", views.withdraw_page, name="withdraw"),
    path("wallet/withdraw/<public_id:link_id>/status/", views.withdraw_status, name="withdraw_status"),
    path(
        "wallet/withdraw/<public_id:link_id>/test-wallet/",
        views.withdraw_with_dev_wallet,
        name="withdraw_with_dev_wallet",
    ),
    path("requester/assignments/<public_id:assignment_id>/bonus/", views.bonus_create, name="bonus_create"),
    path(".well-known/lnurlp/<str:username>", views.dev_wallet_pay_request, name="dev_wallet_pay_request"),
    path(".well-known/lnurlp/<str:username>/invoice", views.dev_wallet_invoice, name="dev_wallet_invoice"),
    path("lnurl/withdraw/callback/", views.lnurl_withdraw_callback, name="lnurl_withdraw_callback"),
    path("lnurl/withdraw/<str:k1>/", views.lnurl_withdraw_request, name="lnurl_withdraw_request"),
]
