//! keepalived.conf
