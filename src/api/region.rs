//! The vendor's regional servers.

/// The regional servers, from the vendor's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// Europe and the rest of the world (the default server).
    Eu,
    /// North America.
    Us,
    /// China.
    Cn,
    /// Australia.
    Au,
    /// The vendor's test server.
    Test,
}

impl Region {
    /// The region's base URL.
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Eu => "https://openapi.growatt.com",
            Region::Us => "https://openapi-us.growatt.com",
            Region::Cn => "https://openapi-cn.growatt.com",
            Region::Au => "https://openapi-au.growatt.com",
            Region::Test => "https://test.growatt.com",
        }
    }
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Region::Eu => "eu",
            Region::Us => "us",
            Region::Cn => "cn",
            Region::Au => "au",
            Region::Test => "test",
        })
    }
}
