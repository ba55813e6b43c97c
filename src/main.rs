fn main() {
    std::process::exit(evoquant::cli::run());
}
