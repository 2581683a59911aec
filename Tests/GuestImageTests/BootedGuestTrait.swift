import Testing

/// Boots one guest for a whole suite and tears it down afterwards, whatever happens: TCG boots
/// take seconds, so the suite's tests share one VM instead of booting their own.
struct BootedGuestTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let vm = try GuestVM.boot()
        defer { vm.stop() }
        try await GuestVM.$current.withValue(vm) {
            try await function()
        }
    }
}

extension Trait where Self == BootedGuestTrait {
    /// One VM booted from the guest image for the suite, reachable as `GuestVM.current`.
    static var bootedGuest: Self { Self() }
}

/// The suite's VM, or a clear failure if a test runs outside the trait.
func guest() throws -> GuestVM {
    try #require(GuestVM.current, "this test needs the .bootedGuest suite trait")
}
