/// The life of an instance, from the decision that asked for it to its removal.
///
/// ```
/// requested → cloning → booting → ready → registering → serving → draining → stopping → gone
///                          ▲        │                       ▲          │
///              standby ────┘        └──── stopping ◄────────┼──────────┘ (registering → draining rolls back)
///                 └──── stopping (discarded, never drained)
/// any state except gone → failed → stopping → gone
/// ```
/// `ready` means the in-guest agent acknowledged its new identity; no traffic reaches an
/// instance before that. A clone that is no longer needed before it serves goes straight to
/// `stopping`, and a half-done registration is rolled back through `draining`.
///
/// A `standby` is a clone restored but kept paused, with no identity (the policy's `standby`
/// block): it is recorded once the hypervisor has made it, is neither serving nor warming, and
/// either activates (`booting`, as its agent takes the identity) or is discarded.
public enum InstanceState: String, CaseIterable, Sendable, Codable {
    case requested, cloning, standby, booting, ready, registering, serving, draining, stopping, gone, failed

    /// The states an instance may move to from this one.
    public var successors: Set<InstanceState> {
        switch self {
        case .requested: [.cloning, .stopping, .failed]
        case .cloning: [.booting, .stopping, .failed]
        case .standby: [.booting, .stopping, .failed]
        case .booting: [.ready, .stopping, .failed]
        case .ready: [.registering, .stopping, .failed]
        case .registering: [.serving, .draining, .failed]
        case .serving: [.draining, .failed]
        case .draining: [.stopping, .failed]
        case .stopping: [.gone, .failed]
        case .failed: [.stopping, .gone]
        case .gone: []
        }
    }

    public func canTransition(to next: InstanceState) -> Bool { successors.contains(next) }

    /// Asked for but not yet taking traffic: counts toward capacity so a burst does not scale out twice.
    public var isWarming: Bool { [.requested, .cloning, .booting, .ready, .registering].contains(self) }
    /// Taking new traffic.
    public var isServing: Bool { self == .serving }
    /// Leaving: no new traffic, on its way to `gone`.
    public var isLeaving: Bool { [.draining, .stopping].contains(self) }
}
