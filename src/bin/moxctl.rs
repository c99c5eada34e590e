fn main() -> std::process::ExitCode {
    moxide::cli::ctl::main()
}
