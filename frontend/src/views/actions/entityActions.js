import { defineAsyncComponent } from 'vue'
import { mdiPlay, mdiTestTube, mdiTextBoxSearchOutline, mdiFileDocumentMultipleOutline } from '@mdi/js'

/**
 * The actions an entity's detail view offers (ENTITIES[kind].actions): either a dialog (the
 * action itself lives in stores/actions.js) or a link to a filtered list.
 */
export const ENTITY_ACTIONS = {
	testSource: { label: 'action.testSource', icon: mdiTestTube, dialog: defineAsyncComponent(() => import('./SourceTestDialog.vue')) },
	testMapping: { label: 'action.testMapping', icon: mdiTestTube, dialog: defineAsyncComponent(() => import('./MappingTestDialog.vue')) },
	runSynchronization: { label: 'action.runSynchronization', icon: mdiPlay, dialog: defineAsyncComponent(() => import('./SynchronizationRunDialog.vue')) },
	runJob: { label: 'action.runJob', icon: mdiPlay, dialog: defineAsyncComponent(() => import('./JobRunDialog.vue')) },
	sourceLogs: { label: 'action.viewLogs', icon: mdiTextBoxSearchOutline, to: (item) => ({ name: 'sourceLogs', query: { source_id: item.id } }) },
	endpointLogs: { label: 'action.viewLogs', icon: mdiTextBoxSearchOutline, to: (item) => ({ name: 'endpointLogs', query: { endpoint_id: item.id } }) },
	jobLogs: { label: 'action.viewLogs', icon: mdiTextBoxSearchOutline, to: (item) => ({ name: 'jobLogs', query: { job_id: item.id } }) },
	synchronizationLogs: { label: 'action.viewLogs', icon: mdiTextBoxSearchOutline, to: (item) => ({ name: 'synchronizationLogs', query: { synchronization_id: item.id } }) },
	synchronizationContracts: { label: 'action.viewContracts', icon: mdiFileDocumentMultipleOutline, to: (item) => ({ name: 'synchronizationContracts', params: { id: item.id } }) },
}
