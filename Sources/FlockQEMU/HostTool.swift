import FlockSystem

/// Runs a host tool (qemu, qemu-img, ip) to the end through FlockSystem, its output and error
/// appended to `log`; the exit status, or its failure as the driver's error.
func runTool(
    _ executable: String, _ arguments: [String], log: String, timeout: Duration = .seconds(60)
) async throws(QEMUError) -> Int32 {
    do {
        return try await ChildProcess.run(executable, arguments, log: log, timeout: timeout)
    } catch {
        switch error {
        case .timeout(let what, let limit): throw .timeout(what, after: limit)
        case .notFound, .launch: throw .launch(executable, error.description)
        }
    }
}
