/// Why a child process could not be run to the end; callers wrap it in their own located error.
public enum ChildProcessError: Error, CustomStringConvertible, Sendable {
    /// No such executable at that path, nor in `PATH`.
    case notFound(String)
    /// The executable exists but could not be started (the system's reason).
    case launch(String, String)
    /// It ran longer than allowed and was killed.
    case timeout(String, after: Duration)

    public var description: String {
        switch self {
        case .notFound(let executable): "cannot run \(executable): no such executable (nor in PATH)"
        case .launch(let executable, let reason): "cannot run \(executable): \(reason)"
        case .timeout(let executable, let limit): "\(executable) did not finish within \(limit) and was killed"
        }
    }
}
