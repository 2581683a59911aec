import CXenLight

/// libxl's own name for an `ERROR_*` code (e.g. `DOMAIN_NOTFOUND`), for error messages.
func libxlErrorName(_ rc: Int32) -> String {
    guard let name = libxl_error_to_string(libxl_error(rawValue: rc)) else { return "unknown libxl error" }
    return "ERROR_" + String(cString: name)
}
