import FlockTestSupport
import Foundation
import Testing

/// Runs the executable `swift build --build-tests` put next to the test bundle (`flockctl`,
/// `flockd`) in `scratch`'s directory; a signal ending it is a test failure.
func runBuilt(
    _ name: String, _ arguments: [String], in scratch: Scratch, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> Child.Result {
    let binary = try #require(
        BuiltBinary.url(name), "\(name) is not built next to the test runner nor in .build/debug",
        sourceLocation: sourceLocation)
    let run = try await Child.run(binary, arguments, workingDirectory: scratch.dir, in: scratch)
    #expect(run.signal == nil, "\(name) was killed by signal \(run.signal ?? 0)", sourceLocation: sourceLocation)
    return run
}
