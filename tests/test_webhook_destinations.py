"""Webhook destinations: only plainly global addresses, IPv4 wrapped in IPv6 unwrapped, and a delivery connects
to the address that was checked."""
from __future__ import annotations

import pytest
from conftest import _free_port
from receiver import Receiver

from engine.integration.webhooks import Deliverer, plainly_global


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fe80::1", "fc00::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1", "64:ff9b::a01:203",  # NAT64 of 127.0.0.1 and 10.1.2.3
    "2002:7f00:1::", "2002:a9fe:a9fe::1",  # 6to4 of 127.0.0.1 and 169.254.169.254
    "fec0::1",  # site-local
    "ff02::1", "224.0.0.1",  # multicast
])
def test_addresses_inside_the_network_however_wrapped_are_not_destinations(address):
    assert not plainly_global(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_are_destinations(address):
    assert plainly_global(address)


def test_a_delivery_connects_to_the_checked_address_whatever_the_name_says_now(server):
    receiver = Receiver(_free_port()).start()
    try:
        deliverer = Deliverer(server.app.state.session_factory, server.clock, None, timeout=5)
        # A name that resolves nowhere: the request still reaches the address given, with the name as Host.
        url = f"http://hooks.mottagare.invalid:{receiver.port}/hook"
        answer = deliverer._post(url, b"{}", {"content-type": "application/json"}, address="127.0.0.1")
        assert answer.status_code == 204
        [(headers, _)] = receiver.received
        assert headers["host"] == f"hooks.mottagare.invalid:{receiver.port}"
    finally:
        receiver.stop()
