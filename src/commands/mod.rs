//! One module per command: each resolves its flags, does its work, prints what it found through
//! the log emitter, and returns the exit code for `main`.

pub mod account;
pub mod check;
pub mod demo;
pub mod meta;
pub mod report;
pub mod run;
pub mod sim;
pub mod template;
pub mod verify;
