# pragma version 0.4.3
# pragma evm-version shanghai
"""
@title Geoshard batch payout
@license Apache-2.0
@notice Pays up to MAX_PAYEES addresses in one transaction, in any ERC-20, from the caller's
        allowance to this contract. Each call names a batch id (the satellite derives it from
        the accounting period and the batch's number); a batch id the same caller has already
        paid is refused, so a transaction signed twice, or re-sent after a crash, pays no one
        twice. Batch ids are kept per caller so no one can block another payer's ids.
"""

interface ERC20:
    def transferFrom(_from: address, _to: address, _value: uint256) -> bool: nonpayable

MAX_PAYEES: constant(uint256) = 200

event Paid:
    batch: indexed(bytes32)
    payee: indexed(address)
    token: address
    amount: uint256

event BatchPaid:
    batch: indexed(bytes32)
    payer: indexed(address)
    token: address
    payees: uint256
    total: uint256

paid: public(HashMap[address, HashMap[bytes32, bool]])


@external
def pay(token: address, batch: bytes32, payees: DynArray[address, MAX_PAYEES], amounts: DynArray[uint256, MAX_PAYEES]):
    assert len(payees) > 0, "empty batch"
    assert len(payees) == len(amounts), "payees and amounts differ in length"
    assert not self.paid[msg.sender][batch], "batch already paid"
    self.paid[msg.sender][batch] = True
    total: uint256 = 0
    for i: uint256 in range(len(payees), bound=MAX_PAYEES):
        assert payees[i] != empty(address), "payee is the zero address"
        assert amounts[i] > 0, "zero amount"
        assert extcall ERC20(token).transferFrom(msg.sender, payees[i], amounts[i], default_return_value=True), "transfer failed"
        total += amounts[i]
        log Paid(batch=batch, payee=payees[i], token=token, amount=amounts[i])
    log BatchPaid(batch=batch, payer=msg.sender, token=token, payees=len(payees), total=total)
