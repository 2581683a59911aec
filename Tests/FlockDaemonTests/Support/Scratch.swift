import Foundation
import FlockTestSupport

extension Scratch {
    /// Copies Policies/web.yaml here (optionally edited) and returns its path.
    @discardableResult
    func webPolicy(_ name: String = "web.yaml", edit: (String) -> String = { $0 }) throws -> String {
        try write(name, edit(try String(contentsOfFile: Repo.path("Policies/web.yaml"), encoding: .utf8)))
    }
}
