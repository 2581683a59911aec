import Testing

/// The real guest image under QEMU: one VM is booted for all of these tests (see
/// `BootedGuestTrait`), which run one at a time because they read shared counters.
@Suite(.bootedGuest, .serialized)
struct GuestImageTests {}
