//! Keys belong to an organisation and are scoped (issue 14).
//!
//! - `api_key.owner_kind`/`owner_id`: the CSP or agency that holds the key. An owned key's
//!   `externalRef`s are its own namespace (`ref:csp:kent/2024-017`), so two systems that both
//!   number their reviews "2024-017" never meet.
//! - `api_key.national`: an editor or curator key an admin asked to be unscoped. Keys made
//!   before scopes existed were unscoped, and stay so.
//! - `api_key_scope`: the CSPs whose reviews a key may write, and the agencies whose plans it
//!   may update.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    OwnerKind,
    OwnerId,
    National,
}

#[derive(DeriveIden)]
enum ApiKeyScope {
    Table,
    KeyId,
    Kind,
    RefId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(ApiKey::OwnerKind)
                .string_len(10)
                .null()
                .to_owned(),
            ColumnDef::new(ApiKey::OwnerId).integer().null().to_owned(),
            ColumnDef::new(ApiKey::National)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKey::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared("UPDATE api_key SET national = TRUE WHERE role <> 'reader'")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeyScope::Table)
                    .col(ColumnDef::new(ApiKeyScope::KeyId).integer().not_null())
                    .col(ColumnDef::new(ApiKeyScope::Kind).string_len(10).not_null())
                    .col(ColumnDef::new(ApiKeyScope::RefId).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ApiKeyScope::KeyId)
                            .col(ApiKeyScope::Kind)
                            .col(ApiKeyScope::RefId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_key_scope_key")
                            .from(ApiKeyScope::Table, ApiKeyScope::KeyId)
                            .to(ApiKey::Table, ApiKey::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeyScope::Table).to_owned())
            .await?;
        for column in [ApiKey::OwnerKind, ApiKey::OwnerId, ApiKey::National] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKey::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
