# The contractor access groups (STINT_GROUPS): plain security groups.
# Not role-assignable, so that membership never carries a directory role
# and GroupMember.ReadWrite.All may change it; not mail-enabled, since
# nothing mails them.
resource "azuread_group" "access" {
  for_each                = var.access_groups
  display_name            = each.value
  description             = "stint access key ${each.key}: members are added and removed by stint."
  security_enabled        = true
  mail_enabled            = false
  assignable_to_role      = false
  prevent_duplicate_names = true
  owners                  = local.owners
}

# The break-glass group every stint Conditional Access policy excludes
# (STINT_BREAK_GLASS). Role-assignable, unlike the access groups: the
# membership of such a group can be changed only by a Privileged Role
# Administrator, not with GroupMember.ReadWrite.All, so the runtime app
# (or anyone holding that permission) cannot exclude someone from the
# policies by adding them here. Creating it takes that role too.
resource "azuread_group" "break_glass" {
  display_name            = var.break_glass_group_name
  description             = "Emergency-access accounts excluded from stint's Conditional Access policies."
  security_enabled        = true
  mail_enabled            = false
  assignable_to_role      = true
  prevent_duplicate_names = true
  owners                  = local.owners
  members                 = var.break_glass_members
}
