import FlockCore
import FlockGuestKit
import Testing

/// The guest's limit on all clone hooks and the host's wait for them are two constants on the
/// two sides of one contract (the agent links no FlockCore): a host that waits less than the
/// guest may run would take a slow hook for a silent guest and restore it again.
@Suite struct HookBudgetTests {
    @Test func theHostWaitsAsLongAsTheGuestsHooksMayRun() {
        #expect(CloneIdentity.hookTimeBudget == .milliseconds(CloneHooks.totalLimitMs))
    }
}
