//! Writes from case-management systems: API keys, action plans and their status history.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    Name,
    Role,
    KeyHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ActionPlan {
    Table,
    RecommendationId,
    Status,
    LeadAgencyId,
    Action,
    TargetDate,
    CompletionDate,
    OutcomeNote,
    Rag,
    SignOffBody,
    Version,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum StatusEvent {
    Table,
    Id,
    RecommendationId,
    Version,
    Actor,
    At,
    FromStatus,
    ToStatus,
    Note,
    Changes,
}

#[derive(DeriveIden)]
enum Recommendation {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Agency {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(
                        ColumnDef::new(ApiKey::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ApiKey::Name)
                            .string_len(100)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ApiKey::Role).string_len(20).not_null())
                    // SHA-256 of the key, hex: the key itself is shown once and never stored.
                    .col(
                        ColumnDef::new(ApiKey::KeyHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ApiKey::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiKey::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per recommendation once anyone writes its plan; none means "not started".
        manager
            .create_table(
                Table::create()
                    .table(ActionPlan::Table)
                    .col(
                        ColumnDef::new(ActionPlan::RecommendationId)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ActionPlan::Status).string_len(20).not_null())
                    .col(ColumnDef::new(ActionPlan::LeadAgencyId).integer().null())
                    .col(ColumnDef::new(ActionPlan::Action).text().null())
                    // `YYYY-MM-DD`: sorts and compares as text on every engine.
                    .col(ColumnDef::new(ActionPlan::TargetDate).string_len(10).null())
                    .col(
                        ColumnDef::new(ActionPlan::CompletionDate)
                            .string_len(10)
                            .null(),
                    )
                    .col(ColumnDef::new(ActionPlan::OutcomeNote).text().null())
                    .col(ColumnDef::new(ActionPlan::Rag).string_len(10).null())
                    .col(
                        ColumnDef::new(ActionPlan::SignOffBody)
                            .string_len(200)
                            .null(),
                    )
                    .col(ColumnDef::new(ActionPlan::Version).integer().not_null())
                    .col(
                        ColumnDef::new(ActionPlan::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ActionPlan::UpdatedBy)
                            .string_len(100)
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_action_plan_recommendation")
                            .from(ActionPlan::Table, ActionPlan::RecommendationId)
                            .to(Recommendation::Table, Recommendation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_action_plan_lead_agency")
                            .from(ActionPlan::Table, ActionPlan::LeadAgencyId)
                            .to(Agency::Table, Agency::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_action_plan_status", ActionPlan::Status),
            ("idx_action_plan_target_date", ActionPlan::TargetDate),
            ("idx_action_plan_lead_agency", ActionPlan::LeadAgencyId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ActionPlan::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(StatusEvent::Table)
                    .col(
                        ColumnDef::new(StatusEvent::Id)
                            .integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(StatusEvent::RecommendationId)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(StatusEvent::Version).integer().not_null())
                    .col(
                        ColumnDef::new(StatusEvent::Actor)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StatusEvent::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StatusEvent::FromStatus)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StatusEvent::ToStatus)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(ColumnDef::new(StatusEvent::Note).text().null())
                    .col(ColumnDef::new(StatusEvent::Changes).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_status_event_recommendation")
                            .from(StatusEvent::Table, StatusEvent::RecommendationId)
                            .to(Recommendation::Table, Recommendation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One version of a recommendation's plan is written once: the database itself refuses
        // a second event for it, whatever a racing writer believed.
        manager
            .create_index(
                Index::create()
                    .name("idx_status_event_recommendation_version")
                    .table(StatusEvent::Table)
                    .col(StatusEvent::RecommendationId)
                    .col(StatusEvent::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            StatusEvent::Table.into_iden(),
            ActionPlan::Table.into_iden(),
            ApiKey::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
