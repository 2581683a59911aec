import FlockCore

/// What `bench clone` compares: the core's clone modes, plus `standby`, the activation of a
/// lazy clone restored ahead of the decision (`CloneRequest.standby`).
public enum BenchCloneMode: String, CaseIterable, Sendable, Hashable {
    case cold, eager, lazy, standby

    /// The mode the driver clones in; a standby is a lazy clone.
    var cloneMode: CloneMode {
        switch self {
        case .cold: .cold
        case .eager: .eager
        case .lazy, .standby: .lazy
        }
    }
}
