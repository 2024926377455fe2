// `sqlx::migrate!` embeds the migration files when the crate compiles; without this, a new
// migration would not rebuild the crate and the binary would run without it.
fn main() {
    println!("cargo:rerun-if-changed=../schemas/migrations");
}
