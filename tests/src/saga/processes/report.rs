//! [`ProcessReport`]: what a process run ended with, and the checks tests make of it.

/// What a process run ended with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Orders posted.
    pub orders: usize,
    /// Orders confirmed.
    pub confirmed: usize,
    /// Orders cancelled for stock.
    pub cancelled_stock: usize,
    /// Orders cancelled for payment.
    pub cancelled_payment: usize,
    /// Charges in the gateway's journal.
    pub charges: usize,
    /// Whether orders were still being posted when the service was killed.
    pub posting_when_killed: bool,
    /// Charges in the journal right after the kill (0 without a kill).
    pub charges_before_kill: usize,
}

impl ProcessReport {
    /// Checks that every order settled and that the gateway charged each order that reached
    /// payment exactly once.
    ///
    /// # Panics
    /// When either does not hold.
    pub fn assert_reconciled(&self) {
        assert_eq!(
            self.confirmed + self.cancelled_stock + self.cancelled_payment,
            self.orders,
            "every order settles: {self:?}"
        );
        assert_eq!(
            self.charges,
            self.confirmed + self.cancelled_payment,
            "one charge per order that reached payment: {self:?}"
        );
    }

    /// Checks that the run saw every outcome (confirmed, cancelled for stock, cancelled for
    /// payment) and [reconciled](Self::assert_reconciled).
    ///
    /// # Panics
    /// When an outcome is missing or the run does not reconcile.
    pub fn assert_every_outcome(&self) {
        assert!(
            self.confirmed > 0 && self.cancelled_stock > 0 && self.cancelled_payment > 0,
            "an outcome is missing: {self:?}"
        );
        self.assert_reconciled();
    }

    /// Checks, after a run that killed the payment process, that the kill came after some
    /// charges and that the restarted process charged more, each order once.
    ///
    /// # Panics
    /// When any of that does not hold.
    pub fn assert_payment_restarted(&self) {
        assert!(
            self.charges_before_kill > 0,
            "the kill came before any charge: {self:?}"
        );
        assert!(
            self.charges > self.charges_before_kill,
            "the restarted payment process charged nothing: {self:?}"
        );
        self.assert_reconciled();
    }
}
