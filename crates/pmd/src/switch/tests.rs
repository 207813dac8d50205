use super::*;

#[test]
fn equal_action_lists_are_shared_and_the_set_is_bounded() {
    let mut lists = ActionLists::default();
    let a = lists.share(Arc::from(vec![Action::Output(2)]));
    let b = lists.share(Arc::from(vec![Action::Output(2)]));
    let c = lists.share(Arc::from(vec![Action::Output(3)]));
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &c));
    for port in 0..2 * ActionLists::MAX as u32 {
        lists.share(Arc::from(vec![Action::Output(port)]));
    }
    assert!(lists.lists.len() <= ActionLists::MAX);
}
