"""Imports every domain's models so that Alembic and `Base.metadata` see all tables."""

from app.accounts.models import SocialAccount
from app.audit.models import AuditAnchor, AuditChainHead, AuditEvent
from app.auth.models import ApiToken, LoginAttempt, User, UserIdentity
from app.classification.models import (
    Classification,
    ClassificationOverride,
    ContentFingerprint,
    ContentFingerprintBand,
)
from app.collectors.models import CaptureAttempt
from app.connections.models import ConnectAttempt, PlatformConnection
from app.db import Base
from app.open_records.models import (
    RecordsRequest,
    Redaction,
    RequestItem,
    RequestNote,
    ResponsePackage,
)
from app.platforms.x.models import XReadMonth
from app.platforms.youtube.models import YouTubeQuotaDay
from app.posts.models import CapturedVersion, FlaggedPost, VersionMedia
from app.public.models import (
    FeeEstimate,
    PortalAttempt,
    PortalMessage,
    PortalRequest,
    ReadingRoomWithholding,
)
from app.retention.models import (
    DispositionBatch,
    DispositionItem,
    HeldPost,
    Hold,
    RecordedSchedule,
    RetentionAssignment,
)
from app.snapshots.models import Snapshot
from app.storage.models import FixityCheck, StoredObject
from app.timestamps.models import TimestampToken
from app.uploads.models import VersionUpload

__all__ = [
    "ApiToken",
    "AuditAnchor",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "CaptureAttempt",
    "ConnectAttempt",
    "PlatformConnection",
    "CapturedVersion",
    "Classification",
    "ClassificationOverride",
    "ContentFingerprint",
    "ContentFingerprintBand",
    "DispositionBatch",
    "DispositionItem",
    "FeeEstimate",
    "FixityCheck",
    "FlaggedPost",
    "HeldPost",
    "Hold",
    "LoginAttempt",
    "PortalAttempt",
    "PortalMessage",
    "PortalRequest",
    "ReadingRoomWithholding",
    "RecordsRequest",
    "Redaction",
    "RequestItem",
    "RequestNote",
    "ResponsePackage",
    "RecordedSchedule",
    "RetentionAssignment",
    "Snapshot",
    "SocialAccount",
    "StoredObject",
    "TimestampToken",
    "User",
    "UserIdentity",
    "VersionMedia",
    "XReadMonth",
    "YouTubeQuotaDay",
    "VersionUpload",
]
